// Package config holds the typed configuration of Shoal's binaries: defaults
// in code, a strict YAML file overlay, an environment overlay and
// validation that names the offending key.
//
// Config is a leaf package: the wiring packages copy fields out of it into
// each component, and nothing else imports it.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// ValidationError names a configuration key and what is wrong with it.
type ValidationError struct {
	Key    string
	Reason string
}

func (e *ValidationError) Error() string { return e.Key + ": " + e.Reason }

func invalid(key, format string, args ...any) error {
	return &ValidationError{Key: key, Reason: fmt.Sprintf(format, args...)}
}

// overlayFile decodes the YAML file at path over dst. Unknown keys are
// errors. A missing file is an error only if required is true.
func overlayFile(dst any, path string, required bool) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !required {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(dst); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: %w", path, nameKeys(b, err))
	}
	return nil
}

// nameKeys rewrites yaml's "line N: ..." messages to also name the key path
// found on that line, so that "line 2: cannot unmarshal" becomes
// "rtmp.idle_timeout (line 2): cannot unmarshal".
func nameKeys(src []byte, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	var root yaml.Node
	if yaml.Unmarshal(src, &root) != nil {
		return err
	}
	msgs := make([]string, 0, len(te.Errors))
	for _, m := range te.Errors {
		var line int
		if _, scanErr := fmt.Sscanf(m, "line %d:", &line); scanErr == nil {
			if key := keyAtLine(&root, line, ""); key != "" {
				m = key + " (" + m[:strings.IndexByte(m, ':')] + ")" + m[strings.IndexByte(m, ':'):]
			}
		}
		msgs = append(msgs, m)
	}
	return errors.New(strings.Join(msgs, "; "))
}

func keyAtLine(n *yaml.Node, line int, path string) string {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if k := keyAtLine(c, line, path); k != "" {
				return k
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			if k.Line == line {
				return p
			}
			if found := keyAtLine(v, line, p); found != "" {
				return found
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if found := keyAtLine(c, line, path+"["+strconv.Itoa(i)+"]"); found != "" {
				return found
			}
		}
	}
	return ""
}

var durationType = reflect.TypeFor[time.Duration]()

// overlayEnv sets fields of dst (a pointer to a struct) from environment
// variables named prefix + the upper-case YAML path joined with '_', for
// example SHOAL_NODE_RTMP_ADDR for rtmp.addr. lookup is os.LookupEnv in
// production.
func overlayEnv(dst any, prefix string, lookup func(string) (string, bool)) error {
	return walkEnv(reflect.ValueOf(dst).Elem(), prefix, "", lookup)
}

func walkEnv(v reflect.Value, prefix, path string, lookup func(string) (string, bool)) error {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if name == "" || name == "-" {
			continue
		}
		key := name
		if path != "" {
			key = path + "." + name
		}
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct && fv.Type() != durationType {
			if err := walkEnv(fv, prefix, key, lookup); err != nil {
				return err
			}
			continue
		}
		env := prefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
		s, ok := lookup(env)
		if !ok {
			continue
		}
		if err := setScalar(fv, s); err != nil {
			return invalid(key, "environment variable %s: %v", env, err)
		}
	}
	return nil
}

func setScalar(v reflect.Value, s string) error {
	if v.Type() == durationType {
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return err
		}
		v.SetInt(n)
	case reflect.Uint32, reflect.Uint64, reflect.Uint:
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return err
		}
		v.SetUint(n)
	case reflect.Float64:
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return err
		}
		v.SetFloat(n)
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("unsupported list type %s", v.Type())
		}
		var parts []string
		for p := range strings.SplitSeq(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		v.Set(reflect.ValueOf(parts))
	default:
		return fmt.Errorf("unsupported type %s", v.Type())
	}
	return nil
}

// checkHostPort validates a HOST:PORT listen address; port 0 is allowed and
// picks a free port.
func checkHostPort(key, addr string) error {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return invalid(key, "%q is not HOST:PORT", addr)
	}
	p, err := strconv.Atoi(addr[i+1:])
	if err != nil || p < 0 || p > 65535 {
		return invalid(key, "%q has no valid port (0-65535)", addr)
	}
	return nil
}

func checkPositive(key string, v int64) error {
	if v <= 0 {
		return invalid(key, "must be positive, got %d", v)
	}
	return nil
}

func checkOneOf(key, v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return invalid(key, "%q is not one of %s", v, strings.Join(allowed, ", "))
}

func itoa(i int) string { return strconv.Itoa(i) }
