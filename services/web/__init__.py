"""The web app: server-rendered pages in Italian for counters, referral teams, custodi sociali
and coordinators. It has no store and consumes no events: it calls the three APIs over HTTP."""
