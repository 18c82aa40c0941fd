package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"

	"github.com/shoal-live/shoal/internal/store"
)

const launchConfigVersion = "0.0.3"

// launchEnvelope is the Red5 Pro body of the launch configuration
// endpoints.
type launchEnvelope struct {
	LaunchConfig *launchConfigJSON `json:"launchconfig"`
}

// launchConfigJSON is a v0.0.3 launch configuration.
type launchConfigJSON struct {
	Name        string             `json:"name"`
	Description string             `json:"description"`
	Image       string             `json:"image"`
	Version     string             `json:"version"`
	Targets     *launchTargetsJSON `json:"targets"`
	Properties  *propertiesJSON    `json:"properties"`
	Metadata    *metadataJSON      `json:"metadata"`
}

type launchTargetsJSON struct {
	Target []launchTargetJSON `json:"target"`
}

type launchTargetJSON struct {
	Role         string `json:"role"`
	InstanceType string `json:"instanceType"`
	// ConnectionCapacity is a string in Red5 Pro's JSON ("300"); a
	// number is accepted too.
	ConnectionCapacity numberText `json:"connectionCapacity"`
	Image              string     `json:"image,omitempty"`
}

type propertiesJSON struct {
	Property []propertyJSON `json:"property"`
}

type propertyJSON struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type metadataJSON struct {
	Meta []metaJSON `json:"meta"`
}

type metaJSON struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// numberText is a JSON string or number kept as its text: Red5 Pro sends
// numbers as strings ("300"). Other JSON values are refused with an error
// naming the field, of type api.numberText.
type numberText string

// UnmarshalJSON accepts "300" and 300.
func (c *numberText) UnmarshalJSON(b []byte) error {
	if bytes.HasPrefix(b, []byte(`"`)) {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = numberText(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		// An UnmarshalTypeError gets the field's path added by the decoder.
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &json.UnmarshalTypeError{Value: te.Value, Type: reflect.TypeFor[numberText]()}
		}
		return err
	}
	*c = numberText(n.String())
	return nil
}

func toLaunchConfig(env launchEnvelope) (store.LaunchConfig, error) {
	c := env.LaunchConfig
	if c == nil {
		return store.LaunchConfig{}, badRequest("launchconfig: required")
	}
	if err := checkName("name", c.Name); err != nil {
		return store.LaunchConfig{}, err
	}
	out := store.LaunchConfig{
		Name: c.Name, Description: c.Description, Image: c.Image, Version: c.Version,
		Properties: []store.Property{}, Metadata: []store.Meta{},
	}
	switch out.Version {
	case "":
		out.Version = launchConfigVersion
	case launchConfigVersion:
	default:
		return store.LaunchConfig{}, badRequest("version: must be %s, got %q", launchConfigVersion, c.Version)
	}
	if c.Targets == nil || len(c.Targets.Target) == 0 {
		return store.LaunchConfig{}, badRequest("targets.target: at least one role is required")
	}
	seen := map[store.Role]bool{}
	for i, t := range c.Targets.Target {
		field := fmt.Sprintf("targets.target[%d]", i)
		role := store.Role(t.Role)
		if !role.Valid() {
			return store.LaunchConfig{}, badRequest("%s.role: must be one of %v, got %q", field, store.Roles, t.Role)
		}
		if seen[role] {
			return store.LaunchConfig{}, badRequest("%s.role: role %q listed twice", field, role)
		}
		seen[role] = true
		capacity, err := strconv.Atoi(string(t.ConnectionCapacity))
		if err != nil || capacity < 1 {
			return store.LaunchConfig{}, badRequest("%s.connectionCapacity: must be a positive integer, got %q", field, t.ConnectionCapacity)
		}
		if t.Image == "" && c.Image == "" {
			return store.LaunchConfig{}, badRequest("%s.image: required when the configuration has no image", field)
		}
		out.Targets = append(out.Targets, store.LaunchTarget{Role: role, InstanceType: t.InstanceType, ConnectionCapacity: capacity, Image: t.Image})
	}
	if c.Properties != nil {
		for i, p := range c.Properties.Property {
			if p.Name == "" {
				return store.LaunchConfig{}, badRequest("properties.property[%d].name: required", i)
			}
			out.Properties = append(out.Properties, store.Property{Name: p.Name, Value: p.Value})
		}
	}
	if c.Metadata != nil {
		for i, m := range c.Metadata.Meta {
			if m.Key == "" {
				return store.LaunchConfig{}, badRequest("metadata.meta[%d].key: required", i)
			}
			out.Metadata = append(out.Metadata, store.Meta{Key: m.Key, Value: m.Value})
		}
	}
	return out, nil
}

func fromLaunchConfig(c store.LaunchConfig) launchEnvelope {
	out := &launchConfigJSON{
		Name: c.Name, Description: c.Description, Image: c.Image, Version: c.Version,
		Targets: &launchTargetsJSON{Target: []launchTargetJSON{}}, Properties: &propertiesJSON{Property: []propertyJSON{}},
		Metadata: &metadataJSON{Meta: []metaJSON{}},
	}
	for _, t := range c.Targets {
		out.Targets.Target = append(out.Targets.Target, launchTargetJSON{
			Role: string(t.Role), InstanceType: t.InstanceType,
			ConnectionCapacity: numberText(strconv.Itoa(t.ConnectionCapacity)), Image: t.Image,
		})
	}
	for _, p := range c.Properties {
		out.Properties.Property = append(out.Properties.Property, propertyJSON(p))
	}
	for _, m := range c.Metadata {
		out.Metadata.Meta = append(out.Metadata.Meta, metaJSON(m))
	}
	return launchEnvelope{LaunchConfig: out}
}

func (s *Server) createLaunchConfig(w http.ResponseWriter, r *http.Request) error {
	var env launchEnvelope
	if err := decodeJSON(w, r, bodyLimit, &env); err != nil {
		return err
	}
	c, err := toLaunchConfig(env)
	if err != nil {
		return err
	}
	if err := s.st.CreateLaunchConfig(r.Context(), c); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, fromLaunchConfig(c))
	return nil
}

func (s *Server) listLaunchConfigs(w http.ResponseWriter, r *http.Request) error {
	cs, err := s.st.LaunchConfigs(r.Context())
	if err != nil {
		return err
	}
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Name
	}
	writeJSON(w, http.StatusOK, names)
	return nil
}

func (s *Server) getLaunchConfig(w http.ResponseWriter, r *http.Request) error {
	c, err := s.st.LaunchConfig(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, fromLaunchConfig(c))
	return nil
}

func (s *Server) updateLaunchConfig(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	var env launchEnvelope
	if err := decodeJSON(w, r, bodyLimit, &env); err != nil {
		return err
	}
	if env.LaunchConfig != nil && env.LaunchConfig.Name == "" {
		env.LaunchConfig.Name = name
	}
	c, err := toLaunchConfig(env)
	if err != nil {
		return err
	}
	if c.Name != name {
		return badRequest("name: %q does not match the launch configuration %q in the path", c.Name, name)
	}
	if err := s.st.UpdateLaunchConfig(r.Context(), c); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, fromLaunchConfig(c))
	return nil
}

func (s *Server) deleteLaunchConfig(w http.ResponseWriter, r *http.Request) error {
	c, err := s.st.DeleteLaunchConfig(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, fromLaunchConfig(c))
	return nil
}
