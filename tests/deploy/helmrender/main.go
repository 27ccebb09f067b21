// helmrender renders a Helm chart the way `helm template` does, for tests on
// machines without helm (tests/deploy): Go's text/template with the sprig
// function library — the engine and functions Helm itself uses — plus Helm's
// own additions (include, tpl, required, toYaml, fromYaml, fromYamlArray,
// toJson, fromJson, lookup, .Files.Get). Values are read as Helm reads them
// (YAML through JSON, so every number is a float64) and override files are
// merged the way Helm coalesces them (maps deep, everything else replaced,
// null deletes).
//
//	helmrender -chart helm/serphona -f values.yaml -f more.yaml \
//	           -name rel -namespace ns [-notes notes.txt] > manifests.yaml
//
// Output: every rendered template as YAML documents, each preceded by
// "# Source: <chart>/templates/<file>", like helm template. Exit status 1
// with the template error on stderr when rendering fails (including `fail`
// and `required`).
//
// Built with Debian's golang-go and golang-github-masterminds-sprig-dev in
// GOPATH mode (see tests/deploy/conftest.py); no network.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	yaml2 "gopkg.in/yaml.v2"
	yaml3 "gopkg.in/yaml.v3"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// files is .Files: the chart's non-template files.
type files map[string][]byte

func (f files) Get(name string) string { return string(f[name]) }

// readYAML parses YAML the way Helm's sigs.k8s.io/yaml does: to JSON and
// back, so maps are map[string]interface{} and numbers float64.
func readYAML(data []byte) (map[string]interface{}, error) {
	var raw interface{}
	if err := yaml3.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	j, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	out := map[string]interface{}{}
	if string(j) == "null" {
		return out, nil
	}
	if err := json.Unmarshal(j, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// coalesce merges src over dst like Helm: nested maps merge, a null in src
// deletes the key, anything else replaces.
func coalesce(dst, src map[string]interface{}) map[string]interface{} {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		sm, sok := v.(map[string]interface{})
		dm, dok := dst[k].(map[string]interface{})
		if sok && dok {
			dst[k] = coalesce(dm, sm)
		} else {
			dst[k] = v
		}
	}
	return dst
}

func toYAML(v interface{}) string {
	b, err := yaml2.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}

func fromYAML(s string) map[string]interface{} {
	m, err := readYAML([]byte(s))
	if err != nil {
		return map[string]interface{}{"Error": err.Error()}
	}
	return m
}

func fromYAMLArray(s string) []interface{} {
	var raw interface{}
	if err := yaml3.Unmarshal([]byte(s), &raw); err != nil {
		return []interface{}{err.Error()}
	}
	j, _ := json.Marshal(raw)
	var out []interface{}
	if err := json.Unmarshal(j, &out); err != nil {
		return []interface{}{err.Error()}
	}
	return out
}

func toJSON(v interface{}) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

func fromJSON(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func required(msg string, v interface{}) (interface{}, error) {
	if v == nil {
		return v, errors.New(msg)
	}
	if s, ok := v.(string); ok && s == "" {
		return v, errors.New(msg)
	}
	return v, nil
}

func main() {
	var valueFiles multiFlag
	chartDir := flag.String("chart", "", "chart directory")
	name := flag.String("name", "release-name", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	notesOut := flag.String("notes", "", "write the rendered NOTES.txt here")
	flag.Var(&valueFiles, "f", "values file (repeatable; the chart's values.yaml comes first)")
	flag.Parse()
	if *chartDir == "" {
		fmt.Fprintln(os.Stderr, "usage: helmrender -chart DIR [-f values.yaml]... [-name N] [-namespace NS]")
		os.Exit(2)
	}
	if err := run(*chartDir, valueFiles, *name, *namespace, *notesOut); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

func run(chartDir string, valueFiles []string, name, namespace, notesOut string) error {
	chartYAML, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		return err
	}
	meta, err := readYAML(chartYAML)
	if err != nil {
		return fmt.Errorf("Chart.yaml: %w", err)
	}
	// .Chart exposes the metadata with Helm's capitalised field names.
	chart := map[string]interface{}{}
	for k, v := range meta {
		chart[strings.ToUpper(k[:1])+k[1:]] = v
	}
	chartName, _ := chart["Name"].(string)

	values := map[string]interface{}{}
	base := filepath.Join(chartDir, "values.yaml")
	for _, vf := range append([]string{base}, valueFiles...) {
		data, err := os.ReadFile(vf)
		if err != nil {
			return err
		}
		m, err := readYAML(data)
		if err != nil {
			return fmt.Errorf("%s: %w", vf, err)
		}
		values = coalesce(values, m)
	}

	chartFiles := files{}
	var templates []string
	err = filepath.Walk(chartDir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(chartDir, p)
		rel = filepath.ToSlash(rel)
		if strings.HasPrefix(rel, "templates/") {
			templates = append(templates, rel)
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		chartFiles[rel] = data
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(templates)

	root := template.New("gotpl")
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	funcs["toYaml"] = toYAML
	funcs["fromYaml"] = fromYAML
	funcs["fromYamlArray"] = fromYAMLArray
	funcs["toJson"] = toJSON
	funcs["fromJson"] = fromJSON
	funcs["required"] = required
	funcs["lookup"] = func(string, string, string, string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	funcs["include"] = func(name string, data interface{}) (string, error) {
		var buf bytes.Buffer
		err := root.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := root.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		err = t.Execute(&buf, data)
		return strings.ReplaceAll(buf.String(), "<no value>", ""), err
	}
	root.Funcs(funcs).Option("missingkey=zero")

	for _, rel := range templates {
		data, err := os.ReadFile(filepath.Join(chartDir, rel))
		if err != nil {
			return err
		}
		full := path.Join(chartName, rel)
		if _, err := root.New(full).Parse(string(data)); err != nil {
			return err
		}
	}

	release := map[string]interface{}{
		"Name": name, "Namespace": namespace, "Service": "Helm",
		"IsInstall": true, "IsUpgrade": false, "Revision": 1,
	}
	capabilities := map[string]interface{}{
		"KubeVersion": map[string]interface{}{"Version": "v1.29.0", "Major": "1", "Minor": "29"},
	}
	var out strings.Builder
	for _, rel := range templates {
		base := path.Base(rel)
		if strings.HasPrefix(base, "_") || !(strings.HasSuffix(base, ".yaml") ||
			strings.HasSuffix(base, ".yml") || base == "NOTES.txt") {
			continue
		}
		full := path.Join(chartName, rel)
		top := map[string]interface{}{
			"Values": values, "Release": release, "Chart": chart, "Files": chartFiles,
			"Capabilities": capabilities,
			"Template":     map[string]interface{}{"Name": full, "BasePath": path.Join(chartName, "templates")},
		}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, full, top); err != nil {
			return err
		}
		text := strings.ReplaceAll(buf.String(), "<no value>", "")
		if base == "NOTES.txt" {
			if notesOut != "" {
				if err := os.WriteFile(notesOut, []byte(text), 0o644); err != nil {
					return err
				}
			}
			continue
		}
		for _, doc := range splitDocs(text) {
			fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", full, doc)
		}
	}
	_, err = os.Stdout.WriteString(out.String())
	return err
}

// splitDocs splits a rendered file on "---" lines and drops documents that
// hold nothing but whitespace and comments, as Helm does.
func splitDocs(text string) []string {
	var docs []string
	var cur []string
	flush := func() {
		doc := strings.Trim(strings.Join(cur, "\n"), "\n")
		cur = nil
		for _, line := range strings.Split(doc, "\n") {
			t := strings.TrimSpace(line)
			if t != "" && !strings.HasPrefix(t, "#") {
				docs = append(docs, doc)
				return
			}
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.TrimRight(line, " ") == "---" {
			flush()
			continue
		}
		cur = append(cur, line)
	}
	flush()
	return docs
}
