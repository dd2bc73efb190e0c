"""One Logger, Tracer and Metrics for every function (service name comes from the environment).

Log ids, counts and HMACs only: never a Subject, an email or a record.
"""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="PrivacyEngine")
