"""Pure logic of the web app: identities and roles, form errors, queues, chart geometry."""
