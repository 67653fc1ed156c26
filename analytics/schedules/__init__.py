"""
Scheduled reports (seed 004): a ReportSchedule runs a report of analytics.reporting on its
cron, in its time zone; each run (ReportExecution) holds a CSV and a PDF and is delivered to
the schedule's targets (email, Slack, webhook) through the delivery app's channels, with
recorded attempts, retries at DELIVERY_RETRY_DELAYS and dead letters.

- `cron`: validation and slots (cronsim, cronie's DST behaviour);
- `services`: run_due, generation, delivery, requeue (the only writers);
- `pdf`: the PDF (reportlab); `messages`: what each kind of target is sent;
- `links` / `views`: signed, expiring download links for the files.

Celery entry points are in analytics.tasks (`analytics.reports.*`, the reports queue).
"""
