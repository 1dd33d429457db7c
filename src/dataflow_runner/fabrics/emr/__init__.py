"""The AWS EMR fabric (boto3 is imported only when a cluster is really used)."""
