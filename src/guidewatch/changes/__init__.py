"""What changed and whom it concerns: diff, severity, page events, linking to guide sections."""
