"""What Prometheus needs from the local runtime: file_sd targets for its Pods, and a
supervised ``prometheus`` process scraping them (see docs/local-runtime.md)."""
