package inbound

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/clinical/critical"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/hl7v2"
	"github.com/emr-project/emr/internal/hl7v2/mllp"
	"github.com/emr-project/emr/internal/hl7v2/outbound"
)

// BenchmarkInterface sends ORU^R01 messages (a report of five results,
// for one of 100 patients) over loopback TCP to the interface on SQLite
// on disk, one connection, each message acknowledged (AA, committed and
// synced) before the next is sent.
//
// With hooks, the gate runs the write hooks emr serve gives it: the
// critical result review (each result read back in the transaction) and
// the order outbox (which these messages do not feed).
//
//	go test ./internal/hl7v2/inbound -run '^$' -bench Interface -benchtime 2000x
func BenchmarkInterface(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchmarkInterface(b, false) })
	b.Run("hooks", func(b *testing.B) { benchmarkInterface(b, true) })
}

func benchmarkInterface(b *testing.B, hooks bool) {
	r := newRig(b, nil, "")
	if hooks {
		r.gate.OnWrite((&critical.Reviews{Definitions: spec.R5()}).Hook)
		orders := &outbound.Orders{Store: r.store, Categories: []string{outbound.Categories["laboratory"]}}
		r.gate.OnWrite(orders.Enqueue)
	}
	c, err := mllp.Dial(context.Background(), r.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	n := 0
	for b.Loop() {
		n++
		p := n % 100
		lines := []string{msh + "ORU^R01^ORU_R01|B" + fmt.Sprint(n) + "|P|2.5.1",
			fmt.Sprintf("PID|1||P%03d^^^CITY LAB^MR||DOE^JANE%03d||19700101|F", p, p),
			fmt.Sprintf("OBR|1||R%d^CITY LAB|24323-8^Comprehensive metabolic panel^LN|||202611240730", n)}
		for i, code := range []string{"2345-7", "2160-0", "2951-2", "2823-3", "17861-6"} {
			lines = append(lines, fmt.Sprintf("OBX|%d|NM|%s^Result^LN||%d|mg/dL^^UCUM|1-200|N|||F", i+1, code, 50+i))
		}
		ack, err := c.Send(context.Background(), []byte(strings.Join(lines, "\r")))
		if err != nil {
			b.Fatal(err)
		}
		if m, err := hl7v2.Parse(ack); err != nil || m.Get("MSA-1") != hl7v2.AA {
			b.Fatalf("acknowledgment %q", ack)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "messages/s")
}
