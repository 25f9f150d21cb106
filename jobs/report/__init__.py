"""The portfolio report: seed-002 indicators (pure), PNG plots, and the HTML/JSON build."""
