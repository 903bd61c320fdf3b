"""Plain-Python rules shared by the batch jobs (``jobs/``), the chatbot (``chatbot_lambda/``) and the
mart contract (``mart/``): how artist names are keyed and matched (``names``, ``hangul``) and how
secrets are read from AWS Secrets Manager (``secrets``).

It imports nothing of the project and no Spark; boto3 is imported only when a secret is read.
"""
