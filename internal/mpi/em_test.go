package mpi

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestEMRecoversParameters draws vectors from known m, u and prevalence
// and checks that EM, started from the defaults, finds them again.
func TestEMRecoversParameters(t *testing.T) {
	truth := DefaultModel()
	// Move the truth away from the starting point so the test means something.
	truth.Params[FieldGiven][LevelExact] = MU{0.75, 0.02}
	truth.Params[FieldGiven][LevelVariant] = MU{0.15, 0.01}
	truth.Params[FieldGiven][LevelDisagree] = MU{0.04, 0.95}
	truth.Params[FieldPhone][LevelExact] = MU{0.5, 0.01}
	truth.Params[FieldPhone][LevelDisagree] = MU{0.5, 0.99}
	const prevalence = 0.15
	var m, u [NumFields][NumLevels]float64
	for f := range NumFields {
		for _, l := range fieldLevels[f] {
			m[f][l], u[f][l] = truth.Params[f][l].M, truth.Params[f][l].U
		}
		normalise(&m[f], fieldLevels[f])
		normalise(&u[f], fieldLevels[f])
	}
	rng := rand.New(rand.NewPCG(1, 2))
	draw := func(dist *[NumLevels]float64, levels []Level) Level {
		x := rng.Float64()
		for _, l := range levels {
			if x < dist[l] {
				return l
			}
			x -= dist[l]
		}
		return levels[len(levels)-1]
	}
	pairs := make([]Comparison, 200000)
	for i := range pairs {
		match := rng.Float64() < prevalence
		for f := range NumFields {
			if rng.Float64() < 0.1 {
				continue // missing, as in real data
			}
			if match {
				pairs[i][f] = draw(&m[f], fieldLevels[f])
			} else {
				pairs[i][f] = draw(&u[f], fieldLevels[f])
			}
		}
	}
	res := EstimateEM(pairs, nil, 500)
	t.Logf("EM: %d iterations, converged %v, prevalence %.4f", res.Iterations, res.Converged, res.Prevalence)
	if math.Abs(res.Prevalence-prevalence) > 0.01 {
		t.Errorf("prevalence: got %.4f, want %.4f", res.Prevalence, prevalence)
	}
	for f := range NumFields {
		for _, l := range fieldLevels[f] {
			got := res.Model.Params[f][l]
			if math.Abs(got.M-m[f][l]) > 0.02 || math.Abs(got.U-u[f][l]) > 0.01 {
				t.Errorf("%s.%s: got m=%.4f u=%.4f, want m=%.4f u=%.4f", f, l, got.M, got.U, m[f][l], u[f][l])
			}
		}
	}
}
