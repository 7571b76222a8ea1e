package search

import (
	"testing"
	"time"
)

func TestZZTmp(t *testing.T) {
	x := testExtractor(t)
	for _, doc := range []string{observationJSON, patientJSON} {
		res := mustParse(t, doc)
		ex := extraction{x: x, res: res}
		ex.ctx.Model, ex.ctx.Lenient, ex.ctx.Resource = x.model, true, res
		n, total := 0, 0
		for _, p := range x.plans[res.Type()] {
			for i := range p.parts {
				total++
				pt := &p.parts[i]
				if pt.absent(res) {
					continue
				}
				n++
				start := time.Now()
				for j := 0; j < 1000; j++ {
					pt.expr.Evaluate(&ex.ctx, res)
				}
				d := time.Since(start) / 1000
				if d > 1500*time.Nanosecond || pt.key == "" {
					t.Logf("%s %v key=%q %.150s", p.param.Code, d, pt.key, pt.expr.String())
				}
			}
		}
		t.Logf("%d of %d parts evaluated", n, total)
	}
}
