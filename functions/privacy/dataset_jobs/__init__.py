"""The dataset job: takes every queued subject at once, rewrites each affected lake file once, resumes the requests."""
