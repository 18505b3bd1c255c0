"""rightsdesk: bot."""
