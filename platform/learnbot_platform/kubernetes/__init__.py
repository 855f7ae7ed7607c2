"""The stack on a Kubernetes cluster: the API as a Deployment behind an Ingress, PostgreSQL by
CloudNativePG, monitoring by the Prometheus Operator. Imports nothing of the Docker target."""
