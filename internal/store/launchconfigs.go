package store

import "context"

// LaunchConfig says what to launch for each role of a group (the content
// of a Red5 Pro v0.0.3 launch configuration).
type LaunchConfig struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Image is the default machine image; a target may override it.
	Image      string         `json:"image"`
	Version    string         `json:"version"`
	Targets    []LaunchTarget `json:"targets"`
	Properties []Property     `json:"properties"`
	Metadata   []Meta         `json:"metadata"`
}

// LaunchTarget is what to launch for one role.
type LaunchTarget struct {
	Role         Role   `json:"role"`
	InstanceType string `json:"instance_type"`
	// ConnectionCapacity is the per-node connection limit the alarm
	// threshold is a percentage of.
	ConnectionCapacity int    `json:"connection_capacity"`
	Image              string `json:"image"`
}

// Property is a name/value pair handed to launched nodes.
type Property struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Meta is a key/value pair attached to launched instances (tags).
type Meta struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Target returns the launch target of role.
func (c LaunchConfig) Target(role Role) (LaunchTarget, bool) {
	for _, t := range c.Targets {
		if t.Role == role {
			if t.Image == "" {
				t.Image = c.Image
			}
			return t, true
		}
	}
	return LaunchTarget{}, false
}

// CreateLaunchConfig stores a new launch configuration; ErrConflict if the
// name is taken.
func (s *Store) CreateLaunchConfig(ctx context.Context, c LaunchConfig) error {
	return createDoc(ctx, s, launchDocs, c.Name, c)
}

// UpdateLaunchConfig replaces the launch configuration named c.Name;
// ErrNotFound if absent.
func (s *Store) UpdateLaunchConfig(ctx context.Context, c LaunchConfig) error {
	return updateDoc(ctx, s, launchDocs, c.Name, c)
}

// PutLaunchConfig creates or replaces the launch configuration named
// c.Name (for seeding defaults at start-up).
func (s *Store) PutLaunchConfig(ctx context.Context, c LaunchConfig) error {
	return putDoc(ctx, s, launchDocs, c.Name, c)
}

// LaunchConfig returns the named launch configuration.
func (s *Store) LaunchConfig(ctx context.Context, name string) (LaunchConfig, error) {
	return readDoc[LaunchConfig](ctx, s.db, s, launchDocs, name)
}

// LaunchConfigs returns every launch configuration, ordered by name.
func (s *Store) LaunchConfigs(ctx context.Context) ([]LaunchConfig, error) {
	return listDocs[LaunchConfig](ctx, s, launchDocs)
}

// DeleteLaunchConfig removes a launch configuration and returns it;
// ErrConflict if a group uses it.
func (s *Store) DeleteLaunchConfig(ctx context.Context, name string) (LaunchConfig, error) {
	return deleteDoc[LaunchConfig](ctx, s, launchDocs, name)
}
