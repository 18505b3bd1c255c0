"""rightsdesk: classifiers."""
