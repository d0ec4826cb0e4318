"""The office's deadlines for the units and the reminders to their liaisons."""
