"""Row-level work inside shared data-lake files (s3_dataset stores): find, rewrite, export and expire rows."""
