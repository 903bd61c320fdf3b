"""Where data enters the lake: each module here produces the lake tables from one kind of source."""
