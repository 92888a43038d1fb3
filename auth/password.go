package auth

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// MinCost is the lowest bcrypt cost a configured hash may have; below it a
// stolen configuration is cheap to crack. HashPassword uses DefaultCost.
const (
	MinCost     = 10
	DefaultCost = 12
)

// CheckHash says what is wrong with a configured password hash, if
// anything: it must be bcrypt, of at least MinCost.
func CheckHash(hash string) error {
	cost, err := bcrypt.Cost([]byte(hash))
	if err != nil {
		return errors.New("not a bcrypt hash (make one with alertbridge hash-password)")
	}
	if cost < MinCost {
		return fmt.Errorf("bcrypt cost %d is below %d; hash the password again with alertbridge hash-password", cost, MinCost)
	}
	return nil
}

// HashPassword hashes a password for the configuration.
func HashPassword(password string) (string, error) {
	if len(password) > 72 {
		// bcrypt reads only 72 bytes; a longer password would be
		// accepted by any string sharing its first 72.
		return "", errors.New("password is longer than 72 bytes, all bcrypt reads")
	}
	if password == "" {
		return "", errors.New("empty password")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), DefaultCost)
	return string(h), err
}

// Users are the console users with passwords.
type Users struct {
	hashes map[string][]byte
	// dummy is compared against for an unknown name, so that a guess at a
	// name takes as long as a guess at a password.
	dummy []byte
}

// NewUsers takes each user's bcrypt hash by name.
func NewUsers(hashes map[string]string) *Users {
	u := &Users{hashes: map[string][]byte{}}
	cost := bcrypt.MinCost // no users: every name is unknown alike
	for name, h := range hashes {
		u.hashes[name] = []byte(h)
		if c, err := bcrypt.Cost([]byte(h)); err == nil {
			cost = max(cost, c)
		}
	}
	// As costly as the costliest real hash, so no name is told apart by time.
	u.dummy, _ = bcrypt.GenerateFromPassword([]byte("no such user"), cost)
	return u
}

// Len is how many users there are.
func (u *Users) Len() int { return len(u.hashes) }

// Verify reports whether the password is the user's.
func (u *Users) Verify(name, password string) bool {
	h, ok := u.hashes[name]
	if !ok {
		h = u.dummy
	}
	err := bcrypt.CompareHashAndPassword(h, []byte(password))
	return ok && err == nil
}
