"""starcast: predict a GitHub repository's stars from its metadata, on Kubernetes."""
