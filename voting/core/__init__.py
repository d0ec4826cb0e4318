"""The app-wide infrastructure that knows no feature: configuration, the database and its
sessions, the phone vault, logs, errors and their pages, time, extensions, uploads, spreadsheets."""
