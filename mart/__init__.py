"""The serving contract of the data mart, shared by the publish job and the chatbot.

Pure Python (no Spark): table names and the versioned DDL per SQL dialect (``schema``, ``ddl/``), the
mart URL (``url``), the chatbot's reads (``serving``, ``suggest``), the ``artist_requests`` statements
(``requests``) and schema upgrades (``migrate``). Name keys come from ``shared.names``.
"""
