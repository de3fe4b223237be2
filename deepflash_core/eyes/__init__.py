"""The eye stage: red pupils replaced, flash glare on glasses filled in."""
