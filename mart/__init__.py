"""The serving contract of the data mart, shared by the publish job and the chatbot.

Pure Python (no Spark): table names, the versioned DDL per SQL dialect, and
the normalized name key both sides match artist names with.
"""
