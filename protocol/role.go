package protocol

// Role is what a party is: on a token, on a socket and in a call. A guide
// and an admin both take calls; an admin may also manage the service.
type Role string

const (
	RoleShopper Role = "shopper"
	RoleGuide   Role = "guide"
	RoleAdmin   Role = "admin"
)

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool {
	switch r {
	case RoleShopper, RoleGuide, RoleAdmin:
		return true
	}
	return false
}

// Party is the side of a call r takes: admins take calls as guides.
func (r Role) Party() Role {
	if r == RoleAdmin {
		return RoleGuide
	}
	return r
}
