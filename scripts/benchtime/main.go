// Command benchtime is make bench's timing driver: it runs a command several times and prints
// the median, minimum and maximum wall time in milliseconds ("12.3 11.8 14.0"). A -prepare
// shell command runs untimed before each run. It exits 1 (printing the command's output) when
// any run fails, so that bench.sh can report "n/a".
//
//	benchtime -n 10 -warmup 2 [-prepare 'rm -rf /tmp/x'] -- berth run --rm busybox true
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"time"
)

func main() {
	n := flag.Int("n", 10, "timed runs")
	warmup := flag.Int("warmup", 1, "untimed runs first")
	prepare := flag.String("prepare", "", "shell command to run (untimed) before every run")
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 || *n < 1 {
		fmt.Fprintln(os.Stderr, "usage: benchtime [-n N] [-warmup N] [-prepare CMD] -- COMMAND [ARG...]")
		os.Exit(2)
	}
	var times []float64
	for i := 0; i < *warmup+*n; i++ {
		if *prepare != "" {
			if out, err := exec.Command("/bin/sh", "-c", *prepare).CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "prepare %q: %v\n%s", *prepare, err, out)
				os.Exit(1)
			}
		}
		cmd := exec.Command(args[0], args[1:]...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		err := cmd.Run()
		d := time.Since(start)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%v: %v\n%s", args, err, out.Bytes())
			os.Exit(1)
		}
		if i >= *warmup {
			times = append(times, float64(d.Microseconds())/1000)
		}
	}
	sort.Float64s(times)
	med := times[len(times)/2]
	if len(times)%2 == 0 {
		med = (times[len(times)/2-1] + times[len(times)/2]) / 2
	}
	fmt.Printf("%.1f %.1f %.1f\n", med, times[0], times[len(times)-1])
}
