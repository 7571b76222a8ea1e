package r4

// Specimen: an R5 container is a Device (container.device is mandatory), so
// R4 containers, which describe the container inline, are kept whole as
// extensions unless they came from R5; collection.bodySite becomes a CodeableReference and
// processing.procedure is renamed method.
func init() {
	supported["Specimen"] = true
	addToR5("Specimen.container", keepUnless(func(v any) bool {
		// An R4 container converted from R5 carries its device as a
		// cross-version extension, which the conversion restores.
		c, _ := v.(map[string]any)
		for _, x := range asList(c["extension"]) {
			if ext, _ := x.(map[string]any); ext["url"] == r5Model().extensionURL("Specimen.container.device") {
				return true
			}
		}
		return false
	}))
	addToR5("Specimen.collection.bodySite", mapItems("bodySite", concept))
	addToR4("Specimen.collection.bodySite", inverseItems("bodySite", fromConcept))
	addToR5("Specimen.processing.procedure", rename("method"))
	addToR4("Specimen.processing.method", rename("procedure"))
}
