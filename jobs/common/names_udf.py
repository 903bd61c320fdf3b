"""The name key of ``shared.names`` as a Spark column function, for every job that matches names."""

from __future__ import annotations

from pyspark.sql import functions as F
from pyspark.sql.types import StringType

from shared.names import name_key


@F.pandas_udf(StringType())
def name_key_udf(names):
    """``shared.names.name_key`` over a column: the chatbot normalizes typed names the same way."""
    return names.map(name_key, na_action="ignore")
