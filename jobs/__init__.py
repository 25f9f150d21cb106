"""Jobs: the nightly pipeline, the scheduler, eligibility, notifications, reports and the CLI.

This is the outermost layer: it may import every other package, and nothing imports it."""
