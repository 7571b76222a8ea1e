package mpi

import (
	"slices"
	"sort"
	"strings"
	"time"
)

// EvalOptions configures Evaluate.
type EvalOptions struct {
	Model *Model // DefaultModel if nil
	Limit int    // candidates compared per record; 50 if 0
	// Explain keeps up to this many misclassified pairs in the report.
	Explain int
	// Frequencies makes the model weigh common names by their frequency in
	// the index as it grows (Model.Frequencies); the model is copied, not
	// changed.
	Frequencies bool
	// KeepLevels keeps the agreement vector of every compared pair in
	// EvalReport.Levels, the input EstimateEM learns from.
	KeepLevels bool
}

// GradeFigures are precision and recall of the pairs graded at least Grade.
type GradeFigures struct {
	Grade                   Grade
	Predicted, TruePositive int
	Precision, Recall       float64
}

// EvalReport is what Evaluate measured.
type EvalReport struct {
	Records   int
	TruePairs int // pairs of records of one person
	Compared  int // pairs scored (candidates from blocking)
	// Blocked is the number of true pairs that blocking put together;
	// BlockingRecall = Blocked / TruePairs bounds every grade's recall.
	Blocked        int
	BlockingRecall float64
	// Grades holds certain, certain+probable, and all three grades.
	Grades [3]GradeFigures
	// P50 and P99 are the latency of one record's lookup: candidate
	// selection plus Compare of every candidate.
	P50, P99 time.Duration
	Elapsed  time.Duration
	// Missed counts true pairs below probable by the corruptions of the
	// later record; WrongCertain counts false certain pairs by kind.
	Missed       map[string]int
	WrongCertain map[string]int
	// Unblocked counts true pairs blocking never put together, by the
	// corruptions of the later record.
	Unblocked map[string]int
	// WrongProbable counts false probable pairs by kind.
	WrongProbable map[string]int
	// Levels are the compared pairs' vectors when KeepLevels was set.
	Levels []Comparison
	// Examples are misclassified pairs, for reading.
	Examples []string
}

// Evaluate runs the whole pipeline over a dataset as a registration desk
// would see it: each record is normalised, its candidates are looked up in
// an Index of the records before it, every candidate is compared, and then
// the record is added. Each pair is therefore scored once, and the ground
// truth says which pairs are the same person.
func Evaluate(ds *Dataset, opt EvalOptions) EvalReport {
	if opt.Model == nil {
		opt.Model = DefaultModel()
	}
	if opt.Limit == 0 {
		opt.Limit = 50
	}
	start := time.Now()
	ix := NewIndex()
	if opt.Frequencies {
		copied := *opt.Model
		copied.Frequencies = ix
		opt.Model = &copied
	}
	var (
		rep       = EvalReport{Missed: map[string]int{}, WrongCertain: map[string]int{}, Unblocked: map[string]int{}, WrongProbable: map[string]int{}}
		pidOf     = map[string]int{}
		kindOf    = map[string]string{}
		perPerson = map[int]int{}
		latencies []time.Duration
	)
	for i := range rep.Grades {
		rep.Grades[i].Grade = Certain - Grade(i)
	}
	ds.Each(func(r Record) {
		p := FromPatient(r.Patient)
		t0 := time.Now()
		cands := ix.Candidates(p, opt.Limit)
		blocked := 0
		for _, c := range cands {
			cand := c.Person
			levels := opt.Model.Levels(&p, &cand)
			res := opt.Model.score(levels, p.BirthPrecision == 3 && cand.BirthPrecision == 3, opt.Model.nameWeights(&p, &cand, levels))
			if opt.KeepLevels {
				rep.Levels = append(rep.Levels, levels)
			}
			rep.Compared++
			same := pidOf[c.ID] == r.PersonID
			if same {
				rep.Blocked++
				blocked++
			}
			for i := range rep.Grades {
				if res.Grade >= rep.Grades[i].Grade {
					rep.Grades[i].Predicted++
					if same {
						rep.Grades[i].TruePositive++
					}
				}
			}
			if res.Grade == Certain && !same {
				kind := pairKind(r.Kind, kindOf[c.ID])
				rep.WrongCertain[kind]++
				if len(rep.Examples) < opt.Explain {
					rep.Examples = append(rep.Examples, "false certain ("+kind+"): "+describe(p)+" ~ "+describe(c.Person)+" "+explain(res))
				}
			}
			if res.Grade == Probable && !same {
				kind := pairKind(r.Kind, kindOf[c.ID])
				rep.WrongProbable[kind]++
				if len(rep.Examples) < opt.Explain && rep.WrongProbable[kind] <= 3 {
					rep.Examples = append(rep.Examples, "false probable ("+kind+"): "+describe(p)+" ~ "+describe(c.Person)+" "+explain(res))
				}
			}
			if same && res.Grade < Probable {
				what := strings.Join(r.Corruptions, "+")
				if what == "" {
					what = "(original after duplicate)"
				}
				rep.Missed[what]++
				if len(rep.Examples) < opt.Explain {
					rep.Examples = append(rep.Examples, "missed ["+what+"]: "+describe(p)+" ~ "+describe(c.Person)+" "+explain(res))
				}
			}
		}
		latencies = append(latencies, time.Since(t0))
		if lost := perPerson[r.PersonID] - blocked; lost > 0 {
			rep.Unblocked[strings.Join(r.Corruptions, "+")] += lost
			if len(rep.Examples) < opt.Explain {
				rep.Examples = append(rep.Examples, "unblocked ["+strings.Join(r.Corruptions, "+")+"]: "+describe(p)+" keys "+strings.Join(p.BlockingKeys(), " "))
			}
		}
		rep.TruePairs += perPerson[r.PersonID]
		perPerson[r.PersonID]++
		pidOf[p.ID], kindOf[p.ID] = r.PersonID, r.Kind
		ix.Add(p.ID, p)
		rep.Records++
	})
	for i := range rep.Grades {
		g := &rep.Grades[i]
		g.Precision = ratio(g.TruePositive, g.Predicted)
		g.Recall = ratio(g.TruePositive, rep.TruePairs)
	}
	rep.BlockingRecall = ratio(rep.Blocked, rep.TruePairs)
	slices.Sort(latencies)
	if n := len(latencies); n > 0 {
		rep.P50, rep.P99 = latencies[n/2], latencies[n*99/100]
	}
	rep.Elapsed = time.Since(start)
	return rep
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

func pairKind(a, b string) string {
	k := []string{a, b}
	sort.Strings(k)
	return k[0] + "/" + k[1]
}

func describe(p Person) string {
	return strings.Join(p.Given, " ") + " " + strings.Join(p.Family, "=") + " " + p.birthKey() + " " + p.Gender
}

func explain(r Result) string {
	var b strings.Builder
	b.WriteString(r.Grade.String())
	for _, f := range r.Fields {
		if f.Level != LevelMissing {
			b.WriteString(" " + f.Field.String() + ":" + f.Level.String())
		}
	}
	if r.Rule != "" {
		b.WriteString(" (" + r.Rule + ")")
	}
	return b.String()
}
