"""Tools beside the studies: benchmark translation, `polyunlearn bench` and its reference
evaluator, the 2-process check. Stands on studies/ and every layer below it."""
