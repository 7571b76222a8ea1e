package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/hl7v2/mllp"
)

var metricsPattern = regexp.MustCompile(`metrics:\s+(http://\S+)`)

// TestServeMetrics runs `emr serve --metrics-addr` with the HL7 v2
// interface and the order sender, and finds what it did counted at
// /metrics, and no patient's id there.
func TestServeMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	lab := startLab(t, nil)
	s := startServer(t, t.TempDir(), "EMR_TEST_ARGS=serve --addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 --mllp-addr 127.0.0.1:0 --hl7-orders-to "+lab.addr)
	m := metricsPattern.FindStringSubmatch(s.banner)
	h := mllpPattern.FindStringSubmatch(s.banner)
	if m == nil || h == nil {
		t.Fatalf("the start-up message has no metrics or HL7 v2 line:\n%s", s.banner)
	}
	order := placeOrder(t, s.base)
	lab.next(t)
	c, err := mllp.Dial(context.Background(), h[1])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Send(context.Background(), []byte("MSH|^~\\&|PAS|GHH|EMR|CLINIC|20261124090000+0100||ADT^A08^ADT_A08|S1|P|2.5.1\rPID|1||77^^^GHH^MR||ROE^RICHARD")); err != nil {
		t.Fatal(err)
	}
	call(t, "GET", s.base+"/Patient?name=nobody", "", "")
	// A critical result: one review waits.
	status, _, obs := call(t, "POST", s.base+"/Observation", "application/fhir+json", `{"resourceType": "Observation", "status": "final",
	  "code": {"coding": [{"system": "http://loinc.org", "code": "2823-3"}]},
	  "valueQuantity": {"value": 6.9, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"},
	  "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "HH"}]}]}`)
	if status != 201 {
		t.Fatalf("POST Observation: %d %v", status, obs)
	}

	want := []string{
		`emr_http_requests_total{code="201",handler="fhir",method="post"} 3`,
		`emr_critical_results_waiting 1`, `emr_critical_results_oldest_wait_seconds`,
		`emr_http_requests_total{code="200",handler="fhir",method="get"}`,
		`emr_http_request_duration_seconds_bucket{handler="fhir",method="post",le="+Inf"} 3`,
		`emr_hl7v2_messages_received_total{ack="AA",type="ADT^A08"} 1`,
		`emr_hl7v2_orders_sent_total{outcome="AA"} 1`,
		`emr_hl7v2_orders_waiting 0`,
		`go_goroutines`, `process_resident_memory_bytes`,
	}
	var text string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(m[1])
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		text = string(b)
		missing := ""
		for _, w := range want {
			if !strings.Contains(text, w) {
				missing = w
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %s:\n%s", missing, text)
		}
	}
	if strings.Contains(text, order) || strings.Contains(text, "ROE") {
		t.Errorf("/metrics holds patient data")
	}
}
