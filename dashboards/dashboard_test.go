package dashboards

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const dashboardFile = "ratehttp.json"

// dashboard is the part of a Grafana dashboard model the tests read.
type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int         `json:"id"`
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	Datasource *datasource `json:"datasource"`
	Targets    []target    `json:"targets"`
	GridPos    struct {
		X, Y, W, H int
	} `json:"gridPos"`
	Panels []panel `json:"panels"` // a collapsed row's panels
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type target struct {
	RefID      string      `json:"refId"`
	Expr       string      `json:"expr"`
	Datasource *datasource `json:"datasource"`
}

type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"` // a string, or {"query": "..."}
	Datasource *datasource     `json:"datasource"`
	Multi      bool            `json:"multi"`
	IncludeAll bool            `json:"includeAll"`
}

// queryText returns the text of v's query, whichever of Grafana's two
// shapes it has.
func (v variable) queryText() (string, error) {
	var s string
	if err := json.Unmarshal(v.Query, &s); err == nil {
		return s, nil
	}
	var o struct {
		Query string `json:"query"`
	}
	if err := json.Unmarshal(v.Query, &o); err != nil {
		return "", fmt.Errorf("variable %s: query is neither a string nor an object: %v", v.Name, err)
	}
	return o.Query, nil
}

// datasourceRef is how every panel and query names the data source: through
// the dashboard's datasource variable, chosen at import.
var datasourceRef = datasource{Type: "prometheus", UID: "${datasource}"}

func loadDashboard(t *testing.T) *dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(b) {
		t.Fatalf("%s is not valid JSON", dashboardFile)
	}
	d := new(dashboard)
	if err := json.Unmarshal(b, d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// queryPanels returns the panels that show data: every panel but rows,
// including those inside collapsed rows.
func (d *dashboard) queryPanels() []panel {
	var out []panel
	for _, p := range d.Panels {
		if p.Type != "row" {
			out = append(out, p)
		}
		out = append(out, p.Panels...)
	}
	return out
}

// builtins are the values the tests give Grafana's own variables: what
// Grafana would compute for a 1-second scrape interval and a short range.
var builtins = map[string]string{
	"__rate_interval": "5s",
	"__interval":      "2s",
	"__range":         "1m",
}

var varRef = regexp.MustCompile(`\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)\]\]`)

// substitute replaces the variable references in s with their values in
// vars. It returns the names of the variables it found no value for.
func substitute(s string, vars map[string]string) (string, []string) {
	var unknown []string
	out := varRef.ReplaceAllStringFunc(s, func(ref string) string {
		m := varRef.FindStringSubmatch(ref)
		name := m[1] + m[2] + m[3]
		if v, ok := vars[name]; ok {
			return v
		}
		unknown = append(unknown, name)
		return ref
	})
	return out, unknown
}

// regexValue formats the values of a multi-value or include-all variable as
// Grafana's Prometheus data source does for a =~ matcher: each value's regexp
// metacharacters escaped (with a backslash doubled, for the PromQL string),
// and several values as an alternation.
func regexValue(values []string) string {
	esc := make([]string, len(values))
	for i, v := range values {
		var b strings.Builder
		for _, r := range v {
			switch {
			case r == '\\':
				b.WriteString(`\\\\`)
			case strings.ContainsRune(`$^*{}[]'+?.()|`, r):
				b.WriteString(`\\`)
				b.WriteRune(r)
			default:
				b.WriteRune(r)
			}
		}
		esc[i] = b.String()
	}
	if len(esc) == 1 {
		return esc[0]
	}
	return "(" + strings.Join(esc, "|") + ")"
}

var labelValuesQuery = regexp.MustCompile(`^\s*label_values\(\s*(.+?)\s*,\s*(\w+)\s*\)\s*$`)

// parseLabelValues splits a "label_values(selector, label)" variable query.
func parseLabelValues(q string) (selector, label string, ok bool) {
	m := labelValuesQuery.FindStringSubmatch(q)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

func TestDashboardStructure(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard uid = %q, title = %q, want both set", d.UID, d.Title)
	}
	if d.SchemaVersion < 36 {
		t.Errorf("schemaVersion = %d, want at least 36 (Grafana 9+, imported as is by 10 and 11)", d.SchemaVersion)
	}

	vars := map[string]string{}
	for k, v := range builtins {
		vars[k] = v
	}
	var hasDatasource bool
	for _, v := range d.Templating.List {
		if _, dup := vars[v.Name]; dup {
			t.Errorf("variable %s defined twice", v.Name)
		}
		vars[v.Name] = "x"
		switch v.Type {
		case "datasource":
			var q string
			if err := json.Unmarshal(v.Query, &q); err != nil || q != "prometheus" {
				t.Errorf("variable %s: query = %s, want \"prometheus\"", v.Name, v.Query)
			}
			hasDatasource = hasDatasource || v.Name == "datasource"
		case "query":
			if v.Datasource == nil || *v.Datasource != datasourceRef {
				t.Errorf("variable %s: datasource = %+v, want %+v", v.Name, v.Datasource, datasourceRef)
			}
			q, err := v.queryText()
			if err != nil {
				t.Error(err)
				continue
			}
			if _, _, ok := parseLabelValues(q); !ok {
				t.Errorf("variable %s: query %q, want label_values(selector, label)", v.Name, q)
			}
			if !v.Multi || !v.IncludeAll {
				t.Errorf("variable %s: multi = %v, includeAll = %v, want both true", v.Name, v.Multi, v.IncludeAll)
			}
		default:
			t.Errorf("variable %s: type %q, want datasource or query", v.Name, v.Type)
		}
	}
	if !hasDatasource {
		t.Error(`no variable "datasource" of type datasource`)
	}
	for _, name := range []string{"client", "host"} {
		if _, ok := vars[name]; !ok {
			t.Errorf("no variable %q", name)
		}
	}

	ids := map[int]string{}
	all := slices.Clone(d.Panels)
	for _, p := range d.Panels {
		all = append(all, p.Panels...)
	}
	for _, p := range all {
		if p.ID <= 0 {
			t.Errorf("panel %q: id = %d, want > 0", p.Title, p.ID)
		} else if other, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share id %d", other, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.Title == "" {
			t.Errorf("panel %d has no title", p.ID)
		}
		if g := p.GridPos; g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos = %+v, want inside the 24 columns", p.Title, g)
		}
	}

	panels := d.queryPanels()
	if len(panels) == 0 {
		t.Fatal("no panels")
	}
	for _, p := range panels {
		if p.Datasource == nil || *p.Datasource != datasourceRef {
			t.Errorf("panel %q: datasource = %+v, want %+v", p.Title, p.Datasource, datasourceRef)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no targets", p.Title)
		}
		refIDs := map[string]bool{}
		for _, tg := range p.Targets {
			if tg.RefID == "" || refIDs[tg.RefID] {
				t.Errorf("panel %q: refId %q empty or repeated", p.Title, tg.RefID)
			}
			refIDs[tg.RefID] = true
			if tg.Datasource != nil && *tg.Datasource != datasourceRef {
				t.Errorf("panel %q, query %s: datasource = %+v, want %+v", p.Title, tg.RefID, tg.Datasource, datasourceRef)
			}
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q, query %s: empty expr", p.Title, tg.RefID)
			}
			if _, unknown := substitute(tg.Expr, vars); len(unknown) > 0 {
				t.Errorf("panel %q, query %s: unknown variables %v", p.Title, tg.RefID, unknown)
			}
		}
	}
}

func TestRegexValue(t *testing.T) {
	tests := []struct {
		give []string
		want string
	}{
		{give: []string{"default"}, want: `default`},
		{give: []string{"127.0.0.1:8080"}, want: `127\\.0\\.0\\.1:8080`},
		{give: []string{"a", "b.c"}, want: `(a|b\\.c)`},
		{give: []string{`x\y`}, want: `x\\\\y`},
	}
	for _, tt := range tests {
		if got := regexValue(tt.give); got != tt.want {
			t.Errorf("regexValue(%q) = %s, want %s", tt.give, got, tt.want)
		}
	}
}

func TestSubstitute(t *testing.T) {
	vars := map[string]string{"host": "h", "client": "c", "__rate_interval": "5s"}
	got, unknown := substitute(`rate(x{client=~"$client", host=~"${host}"}[$__rate_interval]) $nope [[host]]`, vars)
	want := `rate(x{client=~"c", host=~"h"}[5s]) $nope h`
	if got != want || !slices.Equal(unknown, []string{"nope"}) {
		t.Errorf("substitute = %q, %v; want %q, [nope]", got, unknown, want)
	}
}
