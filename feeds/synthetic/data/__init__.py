"""Data files of the synthetic generator (a package only so that wheels ship them; see SOURCES.md)."""
