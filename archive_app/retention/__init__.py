"""Retention: the schedule, disposal dates, legal holds, review batches, destruction, certificates, storage locks."""
