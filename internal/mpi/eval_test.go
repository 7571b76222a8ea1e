package mpi

import (
	"os"
	"strconv"
	"testing"
)

func logReport(t *testing.T, rep EvalReport) {
	t.Logf("records %d, true pairs %d, compared %d, blocking recall %.4f, elapsed %v, lookup p50 %v p99 %v",
		rep.Records, rep.TruePairs, rep.Compared, rep.BlockingRecall, rep.Elapsed, rep.P50, rep.P99)
	for _, g := range rep.Grades {
		t.Logf("≥%-8s predicted %6d  true %6d  precision %.4f  recall %.4f", g.Grade, g.Predicted, g.TruePositive, g.Precision, g.Recall)
	}
	t.Logf("missed below probable by corruption: %v", rep.Missed)
	t.Logf("false certain by kind: %v", rep.WrongCertain)
	t.Logf("false probable by kind: %v", rep.WrongProbable)
	t.Logf("unblocked true pairs by corruption: %v", rep.Unblocked)
	for _, e := range rep.Examples {
		t.Log(e)
	}
}

// TestEval20k is the acceptance figure: at 20,000 patients, certain links
// are at least 99.9% precise and certain+probable finds at least 98% of
// the true pairs. MPI_EVAL_N overrides the size (e.g. 100000) for a longer run.
func TestEval20k(t *testing.T) {
	n := 20000
	if s := os.Getenv("MPI_EVAL_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	explain := 0
	if testing.Verbose() {
		explain = 100
	}
	rep := Evaluate(Generate(1, n), EvalOptions{Explain: explain})
	logReport(t, rep)
	if p := rep.Grades[0].Precision; p < 0.999 {
		t.Errorf("certain precision %.4f, want ≥ 0.999", p)
	}
	if r := rep.Grades[1].Recall; r < 0.98 {
		t.Errorf("certain+probable recall %.4f, want ≥ 0.98", r)
	}
	if r := rep.BlockingRecall; r < 0.995 {
		t.Errorf("blocking recall %.4f, want ≥ 0.995", r)
	}
}

// TestEvalFrequencies reports the figures with frequency-weighted names;
// it asserts the same acceptance levels as TestEval20k.
func TestEvalFrequencies(t *testing.T) {
	n := 20000
	if s := os.Getenv("MPI_EVAL_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	rep := Evaluate(Generate(1, n), EvalOptions{Frequencies: true})
	logReport(t, rep)
	if p := rep.Grades[0].Precision; p < 0.999 {
		t.Errorf("certain precision %.4f, want ≥ 0.999", p)
	}
	if r := rep.Grades[1].Recall; r < 0.98 {
		t.Errorf("certain+probable recall %.4f, want ≥ 0.98", r)
	}
}
