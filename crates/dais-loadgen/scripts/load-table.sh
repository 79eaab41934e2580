#!/bin/bash
# The load-test tables of docs/benchmarks.md: every run's --json and output in $OUT, and its
# start time and load average in $OUT/runs.log. Run it on a quiet machine.
S=$(cd "$(dirname "$0")" && pwd)
B=${DAIS_LOADGEN:-/work/target-load/release/dais-loadgen}
D=${OUT:-/tmp/lgfinal}; mkdir -p $D
cd $D
run() { # name, args...
  local name=$1; shift
  echo "$name|$(date -u +%H:%M:%S)|$(cut -d' ' -f1-3 /proc/loadavg)|$*" >> $D/runs.log
  $B --spawn --quiet --json $D/$name.json "$@" > $D/$name.txt 2>&1
}
for io in simple batched gso; do run io-$io --venues 128 --duration 10 --switch-every 2 --io $io; done
for n in 16 64 256 500; do
  # daisd per thread (tid, name, CPU in 5 s), sampled 12 s into the run
  "$S"/daisd-threads.sh 12 > $D/threads-$n.txt &
  run main-$n --venues $n --duration 20 --switch-every 2 --reference
  wait
done
for n in 8 16 24 32 48 128 160 192 224; do run sweep-$n --venues $n --duration 15 --switch-every 2; done
run poll-64 --venues 64 --duration 20 --polling 2
run dialout-64 --venues 64 --duration 20 --switch-every 2 --dial-out
run dialout-256 --venues 256 --duration 20 --switch-every 2 --dial-out
echo done >> $D/runs.log
