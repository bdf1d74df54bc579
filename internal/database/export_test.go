package database

// Migrations is the embedded migrations, for the external tests.
var Migrations = migrations
