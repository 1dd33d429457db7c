// Dataflow Runner's web UI: the little that htmx does not do.
