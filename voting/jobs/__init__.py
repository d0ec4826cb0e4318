"""Background jobs: the queue, the job rows with their progress, the jobs pages."""
