"""Publishing a lake snapshot to the serving mart (MySQL, or SQLite by default) over JDBC."""
