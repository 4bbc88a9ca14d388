ExUnit.start(max_cases: 1)
