"""The serving contract of the data mart, shared by the publish job and the chatbot.

Pure Python (no Spark): table names and the versioned DDL per SQL dialect (``schema``, ``ddl/``), the
mart URL (``url``), the chatbot's reads (``serving``, ``suggest``), the ``artist_requests`` statements
(``requests``), the ``chat_listens`` statements (``listens``), schema upgrades (``migrate``) and
``python -m mart`` (``__main__``) to look into a mart. Name keys come from ``shared.names``. It imports
nothing of ``jobs`` or ``chatbot_lambda``, and keeps the name ``mart``: jobs.zip and the Lambda zip ship
``mart/schema.py``, ``mart/serving.py`` and ``mart/ddl/``.
"""
