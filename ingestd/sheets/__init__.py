"""Sheets: bytes → cells → table → normalized OpenTWPS rows."""
