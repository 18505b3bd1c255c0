"""rightsdesk: storage."""
