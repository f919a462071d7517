//! The initial schema: users, tags, their link, connections, connection requests, access
//! tokens and the community settings row.

use sea_orm_migration::sea_orm::DatabaseBackend;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CommunitySettings {
    Table,
    Id,
    ConnectionEnabled,
    FollowEnabled,
    ContentAvailability,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    RealName,
    Avatar,
    ExtId,
    FollowingsCounter,
    FollowersCounter,
    PostsCounter,
    DiscussionsCounter,
    PollsCounter,
    CategoriesCounter,
    DateJoinedUs,
    Bio,
    Location,
    LocationLatLng,
    PositionLatLng,
    DateOfBirth,
    Description,
    Gender,
    Website,
    Cover,
    Reputation,
    CommunityBadge,
    RegApproved,
    Deleted,
    CompanyName,
    CompanyRole,
}

#[derive(DeriveIden)]
enum Tags {
    Table,
    Id,
    Type,
    Name,
    Description,
    Color,
    Visible,
    VisibilityBoost,
    Active,
    Deleted,
    CreatedAtUs,
}

#[derive(DeriveIden)]
enum UserTags {
    Table,
    UserId,
    TagId,
}

#[derive(DeriveIden)]
enum Connections {
    Table,
    UserId,
    FriendId,
    ConnectedAtUs,
}

#[derive(DeriveIden)]
enum ConnectionRequests {
    Table,
    FromUserId,
    ToUserId,
    CreatedAtUs,
}

#[derive(DeriveIden)]
enum AccessTokens {
    Table,
    TokenSha256,
    UserId,
    ExpiresAtUs,
}

/// A foreign key to `users.id` that removes the dependent row with the user.
fn user_fk(
    from_table: impl IntoIden + 'static,
    from_col: impl IntoIden + 'static,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from_table, from_col)
        .to(Users::Table, Users::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mysql = manager.get_database_backend() == DatabaseBackend::MySql;

        manager
            .create_table(
                Table::create()
                    .table(CommunitySettings::Table)
                    .col(integer(CommunitySettings::Id).primary_key())
                    .col(boolean(CommunitySettings::ConnectionEnabled))
                    .col(boolean(CommunitySettings::FollowEnabled))
                    .col(boolean(CommunitySettings::ContentAvailability))
                    .to_owned(),
            )
            .await?;
        // The one settings row, with the documented defaults (docs/data-file.md).
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(CommunitySettings::Table)
                    .columns([
                        CommunitySettings::Id,
                        CommunitySettings::ConnectionEnabled,
                        CommunitySettings::FollowEnabled,
                        CommunitySettings::ContentAvailability,
                    ])
                    .values_panic([1.into(), true.into(), false.into(), true.into()])
                    .to_owned(),
            )
            .await?;

        // Usernames are compared byte for byte, as the import validates them; MySQL's default
        // collation would otherwise call "Alice" and "alice" duplicates.
        let mut username = string_len(Users::Username, 150);
        if mysql {
            username.extra("COLLATE utf8mb4_bin");
        }
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(big_integer(Users::Id).primary_key())
                    .col(username.unique_key())
                    .col(string_len(Users::RealName, 255))
                    .col(string_len_null(Users::Avatar, 2048))
                    .col(big_integer_null(Users::ExtId))
                    .col(big_integer(Users::FollowingsCounter))
                    .col(big_integer(Users::FollowersCounter))
                    .col(big_integer(Users::PostsCounter))
                    .col(big_integer(Users::DiscussionsCounter))
                    .col(big_integer(Users::PollsCounter))
                    .col(big_integer(Users::CategoriesCounter))
                    .col(big_integer(Users::DateJoinedUs))
                    .col(text(Users::Bio))
                    .col(string_len(Users::Location, 255))
                    .col(string_len_null(Users::LocationLatLng, 64))
                    .col(string_len_null(Users::PositionLatLng, 64))
                    .col(string_len_null(Users::DateOfBirth, 10))
                    .col(text(Users::Description))
                    .col(string_len(Users::Gender, 16))
                    .col(string_len(Users::Website, 2048))
                    .col(string_len_null(Users::Cover, 2048))
                    .col(big_integer(Users::Reputation))
                    .col(boolean(Users::CommunityBadge))
                    .col(boolean(Users::RegApproved))
                    .col(boolean(Users::Deleted))
                    .col(string_len(Users::CompanyName, 255))
                    .col(string_len(Users::CompanyRole, 255))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Tags::Table)
                    .col(big_integer(Tags::Id).primary_key())
                    .col(string_len(Tags::Type, 64))
                    .col(string_len(Tags::Name, 255))
                    .col(text(Tags::Description))
                    .col(string_len(Tags::Color, 32))
                    .col(boolean(Tags::Visible))
                    .col(boolean(Tags::VisibilityBoost))
                    .col(boolean(Tags::Active))
                    .col(boolean(Tags::Deleted))
                    .col(big_integer(Tags::CreatedAtUs))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(UserTags::Table)
                    .col(big_integer(UserTags::UserId))
                    .col(big_integer(UserTags::TagId))
                    .primary_key(Index::create().col(UserTags::UserId).col(UserTags::TagId))
                    .foreign_key(&mut user_fk(UserTags::Table, UserTags::UserId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(UserTags::Table, UserTags::TagId)
                            .to(Tags::Table, Tags::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        // One row per side of a friendship: (a, b) and (b, a), with the same instant.
        manager
            .create_table(
                Table::create()
                    .table(Connections::Table)
                    .col(big_integer(Connections::UserId))
                    .col(big_integer(Connections::FriendId))
                    .col(big_integer(Connections::ConnectedAtUs))
                    .primary_key(
                        Index::create()
                            .col(Connections::UserId)
                            .col(Connections::FriendId),
                    )
                    .foreign_key(&mut user_fk(Connections::Table, Connections::UserId))
                    .foreign_key(&mut user_fk(Connections::Table, Connections::FriendId))
                    .check(Expr::col(Connections::UserId).ne(Expr::col(Connections::FriendId)))
                    .to_owned(),
            )
            .await?;
        // The API's order within a user's list: newest first, then friend id.
        manager
            .create_index(
                Index::create()
                    .name("ix_connections_order")
                    .table(Connections::Table)
                    .col(Connections::UserId)
                    .col((Connections::ConnectedAtUs, IndexOrder::Desc))
                    .col(Connections::FriendId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ConnectionRequests::Table)
                    .col(big_integer(ConnectionRequests::FromUserId))
                    .col(big_integer(ConnectionRequests::ToUserId))
                    .col(big_integer(ConnectionRequests::CreatedAtUs))
                    .primary_key(
                        Index::create()
                            .col(ConnectionRequests::FromUserId)
                            .col(ConnectionRequests::ToUserId),
                    )
                    .foreign_key(&mut user_fk(
                        ConnectionRequests::Table,
                        ConnectionRequests::FromUserId,
                    ))
                    .foreign_key(&mut user_fk(
                        ConnectionRequests::Table,
                        ConnectionRequests::ToUserId,
                    ))
                    .check(
                        Expr::col(ConnectionRequests::FromUserId)
                            .ne(Expr::col(ConnectionRequests::ToUserId)),
                    )
                    .to_owned(),
            )
            .await?;
        // Requests received by a viewer, for `received_connection_request`.
        manager
            .create_index(
                Index::create()
                    .name("ix_connection_requests_to")
                    .table(ConnectionRequests::Table)
                    .col(ConnectionRequests::ToUserId)
                    .col(ConnectionRequests::FromUserId)
                    .to_owned(),
            )
            .await?;

        // Only the SHA-256 of a token is kept, so a dump of this table reveals no token.
        manager
            .create_table(
                Table::create()
                    .table(AccessTokens::Table)
                    .col(string_len(AccessTokens::TokenSha256, 64).primary_key())
                    .col(big_integer(AccessTokens::UserId))
                    .col(big_integer(AccessTokens::ExpiresAtUs))
                    .foreign_key(&mut user_fk(AccessTokens::Table, AccessTokens::UserId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_access_tokens_user")
                    .table(AccessTokens::Table)
                    .col(AccessTokens::UserId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AccessTokens::Table.into_iden(),
            ConnectionRequests::Table.into_iden(),
            Connections::Table.into_iden(),
            UserTags::Table.into_iden(),
            Tags::Table.into_iden(),
            Users::Table.into_iden(),
            CommunitySettings::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
