package access

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/emr-project/emr/internal/fhir/spec"
)

// Roles are what each kind of user may read and write, per resource type.
// The defaults (roles.json, embedded) cover admin, physician, nurse,
// pharmacist, lab, registrar, billing, auditor, patient and service; a
// deployment replaces or adds roles with a file of the same form
// (LoadRoles): named groups of resource types ("@clinical"), and for each
// role its permissions as SMART letters (c create, r read, u update, d
// delete, s search) on types or groups, which patients it reaches (all;
// own, for the patient role: its own compartment; care: the patients in
// the care of the user's Practitioner), whether it needs MFA, and the
// elements masked from it (mask.go).
type Roles struct {
	byName map[string]*Role
}

// Role is one role, its groups expanded.
type Role struct {
	Name        string
	Description string
	// Patients is "all", "own" or "care".
	Patients string
	// MFA says that users of the role must sign in with a second factor
	// (every role that sees clinical data does, by default).
	MFA bool
	// perms maps each letter of "cruds" to the types it is granted on.
	perms map[byte]typeSet
	// masks are the elements hidden from the role in what it is answered
	// (mask.go).
	masks []*mask
	// operations are the operations beyond the SMART letters the role may
	// run ("deidentify"; operations.go).
	operations map[string]bool
}

// typeSet is a set of resource types, or every type.
type typeSet struct {
	all   bool
	types map[string]bool
}

func (s typeSet) has(t string) bool { return s.all || s.types[t] }

// Patient-reach values of Role.Patients.
const (
	PatientsAll  = "all"
	PatientsOwn  = "own"
	PatientsCare = "care"
)

//go:embed roles.json
var defaultRoles []byte

type rolesFile struct {
	Groups map[string][]string `json:"groups"`
	Roles  []fileRole          `json:"roles"`
}

type fileRole struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Patients    string `json:"patients"`
	MFA         bool   `json:"mfa"`
	Permissions []struct {
		Types []string `json:"types"`
		Perms string   `json:"perms"`
	} `json:"permissions"`
	// Masks are optional: a roles file without them hides nothing.
	Masks []fileMask `json:"masks,omitempty"`
	// Operations are optional too: none but what the letters allow.
	Operations []string `json:"operations,omitempty"`
}

// DefaultRoles returns the built-in roles.
func DefaultRoles(defs *spec.Definitions) *Roles {
	r, err := LoadRoles(defs, nil)
	if err != nil {
		panic("access: the built-in roles are invalid: " + err.Error())
	}
	return r
}

// LoadRoles returns the built-in roles with those of data (a roles file, or
// nil) added: a role of the same name replaces the built-in one, and its
// groups join the built-in groups. Unknown resource types, groups and
// permission letters are errors.
func LoadRoles(defs *spec.Definitions, data []byte) (*Roles, error) {
	var base rolesFile
	if err := json.Unmarshal(defaultRoles, &base); err != nil {
		return nil, err
	}
	if data != nil {
		var extra rolesFile
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&extra); err != nil {
			return nil, fmt.Errorf("roles file: %w", err)
		}
		for name, types := range extra.Groups {
			base.Groups[name] = types
		}
		for _, r := range extra.Roles {
			i := slices.IndexFunc(base.Roles, func(b fileRole) bool { return b.Name == r.Name })
			if i >= 0 {
				base.Roles[i] = r
			} else {
				base.Roles = append(base.Roles, r)
			}
		}
	}
	out := &Roles{byName: map[string]*Role{}}
	for _, fr := range base.Roles {
		if fr.Name == "" {
			return nil, fmt.Errorf("roles: a role has no name")
		}
		role := &Role{Name: fr.Name, Description: fr.Description, Patients: fr.Patients, MFA: fr.MFA, perms: map[byte]typeSet{}}
		switch role.Patients {
		case "":
			role.Patients = PatientsAll
		case PatientsAll, PatientsOwn, PatientsCare:
		default:
			return nil, fmt.Errorf("role %s: patients must be all, own or care, not %q", fr.Name, fr.Patients)
		}
		for _, p := range fr.Permissions {
			if p.Perms == "" || strings.Trim(p.Perms, "cruds") != "" {
				return nil, fmt.Errorf("role %s: permissions %q: use the letters c, r, u, d, s", fr.Name, p.Perms)
			}
			for _, t := range p.Types {
				var types []string
				all := false
				switch {
				case t == "*":
					all = true
				case strings.HasPrefix(t, "@"):
					g, ok := base.Groups[t[1:]]
					if !ok {
						return nil, fmt.Errorf("role %s: unknown group %s", fr.Name, t)
					}
					types = g
				default:
					types = []string{t}
				}
				for _, typ := range types {
					if !defs.IsResource(typ) && !legacyTypes[typ] {
						return nil, fmt.Errorf("role %s: %s is not an R5 resource type", fr.Name, typ)
					}
				}
				for i := range len(p.Perms) {
					set := role.perms[p.Perms[i]]
					if set.types == nil {
						set.types = map[string]bool{}
					}
					set.all = set.all || all
					for _, typ := range types {
						set.types[typ] = true
					}
					role.perms[p.Perms[i]] = set
				}
			}
		}
		masks, err := compileMasks(defs, fr.Name, fr.Masks)
		if err != nil {
			return nil, err
		}
		role.masks = masks
		if role.operations, err = checkOperations(fr.Name, fr.Operations); err != nil {
			return nil, err
		}
		out.byName[role.Name] = role
	}
	return out, nil
}

// legacyTypes are names the built-in groups list for data written by
// other versions (R4's Media) that are not R5 types; they grant nothing
// on an R5 store but keep a shared roles file valid.
var legacyTypes = map[string]bool{"Media": true}

// Role returns the role called name.
func (r *Roles) Role(name string) (*Role, bool) {
	role, ok := r.byName[name]
	return role, ok
}

// Names lists the roles, sorted.
func (r *Roles) Names() []string {
	names := make([]string, 0, len(r.byName))
	for n := range r.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Allows reports whether the role grants perm (one of "cruds") on typ.
func (r *Role) Allows(perm byte, typ string) bool { return r.perms[perm].has(typ) }

// Grants describes the role's permissions as "type: letters" lines, for
// `emr role list`.
func (r *Role) Grants(defs *spec.Definitions) []string {
	byType := map[string]string{}
	for _, typ := range defs.APIModel().ResourceTypes() {
		for _, p := range []byte("cruds") {
			if r.Allows(p, typ) {
				byType[typ] += string(p)
			}
		}
	}
	var out []string
	for typ, perms := range byType {
		out = append(out, typ+": "+perms)
	}
	sort.Strings(out)
	return out
}
