# The libFuzzer targets (tests/fuzz/<name>.cc), one per decoder. Read by
# tests/fuzz/CMakeLists.txt (the fuzz build) and tests/CMakeLists.txt (the
# fuzz-* smoke tests every `make test` runs).
set(SHOAL_FUZZ_TARGETS
  fuzz_request_parser
  fuzz_peer_reply
  fuzz_membership
  fuzz_swim_message
  fuzz_context_token
  fuzz_log_record
  fuzz_object
  fuzz_container
  fuzz_config)
