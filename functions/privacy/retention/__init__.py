"""Retention: expire records whose purpose has ended, store by store, at any scale.

The retention workflow (statemachines/retention.asl.json) plans a run from the data map, fans out per
store (parallel DynamoDB scan segments, S3 key batches through a Distributed Map, one SES import job),
then records one evidence record per store and a run summary. Only run ids, store names, counts and
keyed digests travel between states; key batches and scan cursors (which hold identifiers) live in the
KMS-encrypted work bucket, whose objects expire after a day.
"""
